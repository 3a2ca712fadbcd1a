"""Layer 3, archive: archive sets (checksums, manifest), the content digest, and the
engines that write and read archives. Imports only core and lvm."""
