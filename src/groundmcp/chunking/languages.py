"""Which language a file is in, and the tree-sitter grammar for it when one is installed."""

from __future__ import annotations

import functools
import importlib
import posixpath

from tree_sitter import Language

CODE = "code"
DOC = "doc"

_CODE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi", ".pyw"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".mts", ".cts"),
    "tsx": (".tsx",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".inl", ".tpp"),
    # No grammar installed: chunked by line windows.
    "csharp": (".cs",),
    "kotlin": (".kt", ".kts"),
    "scala": (".scala", ".sc"),
    "swift": (".swift",),
    "ruby": (".rb", ".rake", ".gemspec"),
    "php": (".php",),
    "objective-c": (".m", ".mm"),
    "shell": (".sh", ".bash", ".zsh", ".fish"),
    "powershell": (".ps1", ".psm1"),
    "batch": (".bat", ".cmd"),
    "lua": (".lua",),
    "perl": (".pl", ".pm"),
    "r": (".r",),
    "julia": (".jl",),
    "haskell": (".hs",),
    "ocaml": (".ml", ".mli"),
    "elixir": (".ex", ".exs"),
    "erlang": (".erl", ".hrl"),
    "clojure": (".clj", ".cljs", ".cljc", ".edn"),
    "dart": (".dart",),
    "zig": (".zig",),
    "nim": (".nim",),
    "fortran": (".f", ".f90", ".f95"),
    "sql": (".sql",),
    "graphql": (".graphql", ".gql"),
    "protobuf": (".proto",),
    "css": (".css", ".scss", ".sass", ".less"),
    "vue": (".vue",),
    "svelte": (".svelte",),
    "starlark": (".bzl", ".star"),
    "cmake": (".cmake",),
    "make": (".mk", ".mak"),
    "dockerfile": (".dockerfile",),
    "terraform": (".tf", ".tfvars", ".hcl"),
    "groovy": (".groovy", ".gradle"),
    "yaml": (".yaml", ".yml"),
    "toml": (".toml",),
    "json": (".json", ".jsonc", ".json5"),
    "ini": (".ini", ".cfg", ".conf"),
    "xml": (".xml", ".xsd", ".xsl"),
}
_DOC_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "markdown": (".md", ".markdown", ".mdx", ".mkd"),
    "rst": (".rst", ".rest"),
    "html": (".html", ".htm", ".xhtml"),
    "pdf": (".pdf",),
    "text": (".txt", ".text"),
    "asciidoc": (".adoc", ".asciidoc"),
    "latex": (".tex",),
    "org": (".org",),
}
_FILE_NAMES: dict[str, tuple[str, str]] = {
    "makefile": ("make", CODE),
    "gnumakefile": ("make", CODE),
    "dockerfile": ("dockerfile", CODE),
    "containerfile": ("dockerfile", CODE),
    "cmakelists.txt": ("cmake", CODE),
    "jenkinsfile": ("groovy", CODE),
    "gemfile": ("ruby", CODE),
    "rakefile": ("ruby", CODE),
    "build": ("starlark", CODE),
    "build.bazel": ("starlark", CODE),
    "workspace": ("starlark", CODE),
    **{
        name: ("text", DOC)
        for name in (
            "readme",
            "license",
            "licence",
            "copying",
            "changelog",
            "changes",
            "authors",
            "notice",
            "contributing",
            "history",
            "news",
            "todo",
        )
    },
}
_BY_EXTENSION: dict[str, tuple[str, str]] = {
    **{ext: (lang, CODE) for lang, exts in _CODE_EXTENSIONS.items() for ext in exts},
    **{ext: (lang, DOC) for lang, exts in _DOC_EXTENSIONS.items() for ext in exts},
}

# language -> (module, function returning the grammar pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}


def language_for(path: str) -> tuple[str, str] | None:
    """(language, kind) for a path, kind being "code" or "doc"; None when the file type is unknown."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    if name in _FILE_NAMES:
        return _FILE_NAMES[name]
    if name.startswith(("dockerfile.", "containerfile.")):
        return ("dockerfile", CODE)
    stem, ext = posixpath.splitext(name)
    if ext in _BY_EXTENSION:
        return _BY_EXTENSION[ext]
    if stem in _FILE_NAMES and _FILE_NAMES[stem][1] == DOC:  # README.rst is caught above; LICENSE.MIT here
        return _FILE_NAMES[stem]
    return None


def has_grammar(language: str) -> bool:
    return language in _GRAMMARS


@functools.cache
def grammar(language: str) -> Language | None:
    """The tree-sitter grammar for `language`, or None when its package is missing or does not load."""
    spec = _GRAMMARS.get(language)
    if spec is None:
        return None
    try:
        module = importlib.import_module(spec[0])
        return Language(getattr(module, spec[1])())
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
