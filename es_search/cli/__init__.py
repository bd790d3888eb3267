"""The `imgsearch` console command: `root` builds it, one module per command group adds its subcommands."""

from es_search.cli.root import build_parser, main, passive_openmp_threads

__all__ = ["build_parser", "main", "passive_openmp_threads"]
