"""Language names every package shares: the reference recipe's top-20 selection."""

#: The top-20 languages of replit-code-v1-3b's training mix, by the recipe's names.
REFERENCE_LANGUAGES: tuple[str, ...] = (
    "Markdown", "Java", "JavaScript", "Python", "TypeScript", "PHP", "SQL", "JSX",
    "reStructuredText", "Rust", "C", "CSS", "Go", "C++", "HTML", "Vue", "Ruby",
    "Jupyter Notebook", "R", "Shell",
)  # fmt: skip
