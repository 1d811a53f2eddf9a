"""What the two clue-channel connectors (12345 hotline, national clue platform) share, in two halves.

``client`` is connector code (reading, normalising); ``sandbox`` is what their simulated upstreams
share (paging faults, live complaints, region names). The connector never imports the sandbox half.
"""
