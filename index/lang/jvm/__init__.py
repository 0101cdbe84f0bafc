"""What Java and Kotlin share (java.py and kotlin.py are the registered languages): one `jvm:`
namespace (below), the repo layout and the package of a file (project.py), and the extractor base
class with the file-local name rules both extractors use (base.py).

Kotlin calls Java and back, so both languages name a symbol the same way: `jvm:` + package +
nested class path + member (`jvm:com.example.billing.Invoice.Line.total`). Constructors are the
member `<init>` (the JVM's own name; Java allows a method named like its class, so `Foo.Foo`
would collide). Kotlin top-level functions and properties are members of the package itself
(`jvm:com.example.billing.format`), companion objects are nested objects (`Invoice.Companion`).

Resolution here is file-local (docs/architecture.md, "Reference targets"): a simple type name is
looked up in the enclosing classes' nested types, then the file's own types, then single-type
imports, then the language's default imports; anything else is guessed to be in the file's own
package (`jvm:<package>.Name`), which the resolver also searches through the package's wildcard
imports (star aliases). Single-type imports are *not* stored as aliases: they are file-local,
and an alias `jvm:<package>.C -> jvm:a.b.C` would leak into every file of the package and, since
the resolver follows aliases before definitions, hide a class `C` of that package.
"""

PREFIX = "jvm:"
