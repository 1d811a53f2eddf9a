"""What the permit-system and real-name-platform connectors share: the two upstreams speak one API
convention (an app id and its credential buy an access token; answers in a ``{"code", "msg", "data"}``
envelope; lists paged by a ``"<updateTime>|<key>"`` cursor).

``client`` is connector code (the token client and the cursor-paged stream base); the connectors
differ only in their credentials, their names in messages and what a stream does to each record.
``sandbox`` is the sandboxes' half (tokens, list parameters, paging faults, the live source and the
app); the sandboxes differ in their credential header, refusal wording, page sizes and records.
"""
