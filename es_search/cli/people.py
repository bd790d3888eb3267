"""`imgsearch people ...`: the people the faces enricher found (docs/faces.md).

    imgsearch people group               give every face without a person one (an ingest does this too)
    imgsearch people list [--json]       people, most images first
    imgsearch people name ID NAME        name a person ("" takes the name away)
    imgsearch people merge ID INTO       every face of ID becomes INTO's
    imgsearch people split ID IMAGE...   the faces of ID in these images become a new person
    imgsearch people remove ID           take every face of this person off its image, and forget the name
    imgsearch people remove-all --yes    take every face and every person off the index

ID may be a person's id (p-...) or name.
"""

from __future__ import annotations

import argparse
import sys

from es_search.audit import audited
from es_search.cli.output import print_json
from es_search.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("people", help="group, list, name, merge, split and remove people (faces)",
                            description="The people found by the faces enricher (IMGSEARCH_FACES=on).")
    people = parser.add_subparsers(dest="people_command", required=True)

    group = people.add_parser("group", help="give every face without a person one")
    group.set_defaults(func=group_command)

    listing = people.add_parser("list", help="people, most images first")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--size", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.set_defaults(func=list_command)

    name = people.add_parser("name", help="name a person (an empty NAME takes the name away)")
    name.add_argument("person", metavar="ID")
    name.add_argument("name", metavar="NAME")
    name.set_defaults(func=audited("people_name", lambda args: [args.person])(name_command))

    merge = people.add_parser("merge", help="every face of ID becomes INTO's")
    merge.add_argument("person", metavar="ID")
    merge.add_argument("into", metavar="INTO")
    merge.set_defaults(func=audited("people_merge", lambda args: [args.person, args.into])(merge_command))

    split = people.add_parser("split", help="the faces of ID in these images become a new person")
    split.add_argument("person", metavar="ID")
    split.add_argument("images", metavar="IMAGE", nargs="+", help="image ids")
    split.set_defaults(func=audited("people_split", lambda args: [args.person, *args.images])(split_command))

    remove = people.add_parser("remove", help="take every face of this person off its images")
    remove.add_argument("person", metavar="ID")
    remove.set_defaults(func=audited("people_remove", lambda args: [args.person])(remove_command))

    remove_all = people.add_parser("remove-all", help="take every face and person off the index")
    remove_all.add_argument("--yes", action="store_true", help="really: nothing can bring the faces back "
                                                               "but a new ingest with faces on")
    remove_all.set_defaults(func=audited("people_remove_all", lambda args: [])(remove_all_command))


def _store(settings: Settings):
    from es_search.client import connected_client
    from es_search.faces.store import PeopleStore

    return PeopleStore(connected_client(settings), settings.index_alias, settings.face_match_distance)


def _one(store, value: str) -> str:
    """The id behind a person's id or name (an unknown name stays itself, and the store reports it as no person)."""
    return store.resolve([value])[0]


def _describe(person) -> str:
    return f"{person.id}  {person.name or '(no name)'}  {person.images} image{'s' * (person.images != 1)}"


def group_command(args: argparse.Namespace, settings: Settings) -> int:
    result = _store(settings).group_pending()
    print(f"{result.faces} faces given a person: {result.joined} joined people already known, "
          f"{result.new_people} new people")
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    people, total = _store(settings).list(page=args.page, size=args.size)
    if args.json:
        print_json({"total": total, "page": args.page, "size": args.size, "people": [p.to_dict() for p in people]})
        return 0
    print(f"{total} people (page {args.page})")
    for person in people:
        print(_describe(person))
    return 0


def name_command(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    print(_describe(store.rename(_one(store, args.person), args.name)))
    return 0


def merge_command(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    print(_describe(store.merge(_one(store, args.person), _one(store, args.into))))
    return 0


def split_command(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    print(_describe(store.split(_one(store, args.person), args.images)))
    return 0


def remove_command(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    changed = store.remove(_one(store, args.person))
    print(f"removed: {changed} image{'s' * (changed != 1)} changed")
    return 0


def remove_all_command(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        print("this takes every face (boxes and descriptors) and every person off the index; "
              "run it again with --yes", file=sys.stderr)
        return 2
    changed = _store(settings).remove_all()
    print(f"every face removed: {changed} image{'s' * (changed != 1)} changed. "
          "Set IMGSEARCH_FACES=off so that ingests do not find them again.")
    return 0
