"""Files → documents → passages: ``load`` walks a folder and reads each file (``formats``, in a child process that
``extraction`` bounds in time and memory), ``clean`` repairs PDF-extracted text with a map back to the raw offsets,
``chunk`` cuts paragraphs into passages with their ``[start, end)`` spans, ``sentences`` splits passages into
sentences, ``lang`` guesses a text's language."""
