"""Near-duplicate groups: images whose vectors are close AND whose perceptual hashes agree.

`grouping` is pure (union-find, edge confirmation, representative choice); `neighbours` builds and reads
the small-k kNN `_msearch` batches; `store` reads and writes group fields on documents; `regroup` is the
resumable full pass and `incremental` the check of newly ingested images; `listing` pages through groups.
"""
