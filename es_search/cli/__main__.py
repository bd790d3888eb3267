"""`python -m es_search.cli ...`: the same command as the `imgsearch` console script."""

import sys

from es_search.cli.root import main

sys.exit(main())
