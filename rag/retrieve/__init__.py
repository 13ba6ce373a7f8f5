"""Question → cited hits: ``retriever`` gathers candidates and their evidence, ``rank`` fuses them (one formula for
every mode), ``abstention`` decides whether they answer and says why, ``answer_kind`` checks the kind of answer a
question asks for, ``highlight`` chooses the answering sentences."""
