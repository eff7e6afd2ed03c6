"""Host preparation: hugepages, NIC binding, checks."""
