//! netsetup: rtnetlink and nftables over raw netlink sockets.
