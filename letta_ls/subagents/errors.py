"""Errors the readers of other programs' files expect, and keep to one file, one folder or one note.

Transcripts, manifests and CI files are written by other programs, in shapes that change without notice.
Their readers validate what they use, but a shape nobody foresaw can still raise one of ``DATA_ERRORS``
deep in a parser; the reader that owns a file catches them for that file only and says so in a note, so
one odd file costs only itself and /init goes on with the rest.
"""

DATA_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError)
