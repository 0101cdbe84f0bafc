"""What TypeScript and JavaScript share (typescript.py and javascript.py are the registered
languages): everything, since each imports the other. One `js:` namespace, one extractor
(extract.py, with its CommonJS half in commonjs.py and its uses half in uses.py, and the node
types they test in nodes.py), and what package.json and tsconfig.json say (manifests.py:
project() and module_of())."""
