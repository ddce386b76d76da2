"""Plain-text helpers every stage shares: normalisation, stems and n-grams (`textnorm`), language detection
(`lang`), reading numbers (`numbers`) and neutralising passage text before it enters a prompt (`sanitize`).

May import: the standard library only (and each other). Everything else in `rag` may import this package.
"""
