"""Step 4: entries on disk and on object storage. Signed manifests (``local``, keys in ``signing``) name verified
blobs (``blobs``) of serialized values (``serialize``); ``files`` touches store files without following links or
blocking on pipes; ``index`` keeps a SQLite cache of the manifests for listing and eviction; ``locks`` lets one
kernel compute a key while another waits; ``remote`` puts a local store in front of an fsspec URL; ``location``
opens either; ``clearing`` removes entries; ``background`` writes usage statistics off the hit path."""
