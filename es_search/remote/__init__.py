"""Images that live elsewhere: http(s) URLs and S3-compatible object storage.

`locations` parses the location strings that records and a document's `paths` hold (a local path, an
http(s) URL or s3://bucket/key); `address_guard` keeps URLs off private and metadata addresses;
`http_fetch` and `s3` download; `reader.RemoteReader` puts them behind one `read(location)`.
"""

from es_search.remote.locations import Location, is_remote, parse_location
from es_search.remote.reader import REASONS, RemoteReader
from es_search.remote.s3 import RemoteObject, list_s3, presigned_url

__all__ = ["REASONS", "Location", "RemoteObject", "RemoteReader", "is_remote", "list_s3", "parse_location",
           "presigned_url"]
