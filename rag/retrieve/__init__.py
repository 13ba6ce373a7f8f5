"""Question → cited hits: ``retriever`` lists the stages, ``rank`` fuses the candidates (one formula for every mode),
``abstention`` decides whether they answer and says why, ``answer`` reads a typed question's short answer from the
answering sentences (``question_type``, ``read``, ``nouns``), ``highlight`` chooses the answering sentences."""
