"""What a run shows and writes: the progress display, the report files, the HTML page.

- :mod:`.progress`: one display for a whole run (stages, clips done, time left);
- :mod:`.files`: ``results.json``, ``table.md``, ``report.html`` and the plots of an evaluation;
- :mod:`.html_page`: the self-contained HTML page;
- :mod:`.dimension_report`: the same files for a dimensional evaluation (arousal, valence, dominance).
"""
