"""Object types of the graph, served straight from ORM rows."""
