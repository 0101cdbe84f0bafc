"""What C and C++ share (c.py and cpp.py are the registered languages): one linkage namespace
`c:`, one extractor for both grammars (extract.py), the decorator macros blanked before parsing
(macros.py), and what the repo's build files say (project.py: include roots, pkg-config names)."""
