"""Reports: the cohort summary and the meeting record, each built once and rendered per format.

``summary`` builds the cohort summary from a version's analysis (xlsx, html,
pdf, csv); ``meeting`` collects one meeting's record (md, html, pdf);
``document`` holds what they share (safe cells, the PDF page, the templates).
"""
