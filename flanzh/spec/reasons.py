"""Every reason a row or record is dropped for, with what it means: the manifest counts drops by
these names, and docs/drop-reasons.md is generated from this table (``flanzh catalog``). A name
ending in ``:`` is a family; the part after it names the field, template or evaluation set.

Tests keep the table honest: every reason a sample build counts, and every literal reason a
reader passes to ``reject``/``skip``, must be here.
"""

from __future__ import annotations

STAGES = ("read", "normalise", "plan", "render", "check", "corpus")

# name -> (stage, meaning)
DROP_REASONS: dict[str, tuple[str, str]] = {
    # reading a raw file (readers)
    "bad_json": ("read", "a line or object is not valid JSON"),
    "not_an_object": ("read", "a JSON line is valid but not an object"),
    "invalid_encoding": ("read", "a line's bytes do not decode in the spec's encoding"),
    "bad_row": ("read", "a CSV/TSV row has more cells than the header"),
    "wrong_type:": ("read", "a value of the wrong JSON type for the field named (an int where a string is expected); file and line in rejects.jsonl"),
    "lone_surrogate:": ("read", "a string holds a lone surrogate escape (\\ud800), which is not text"),
    "wrong_column_count": ("read", "a TSV line with another number of tab-separated cells than the format has"),
    "malformed_row": ("read", "a row the reader cannot split into the format's columns"),
    "malformed_content": ("read", "AdvertiseGen: the key#value attribute string does not parse"),
    "missing_columns": ("read", "a TSV row lacks a column the header names"),
    "missing_text": ("read", "the text the record is about is missing"),
    "missing_gold": ("read", "the gold label or answer is missing"),
    "duplicate_id": ("read", "an id the file already used (the first row is kept)"),
    "duplicate_key": ("read", "a row key the file already used (the first row is kept)"),
    "duplicate_url": ("read", "WikiLingua: an article URL the file already used"),
    "article_without_sections": ("read", "WikiLingua: an article with no sections"),
    "blank_line": ("read", "lines_by_label: an empty line"),
    "identical_sides": ("read", "a translation pair whose two sides are the same text"),
    "swapped_sides": ("read", "a translation pair whose Chinese side has no Chinese while the other side has"),
    "other_language": ("read", "XNLI: a row of another language (out of scope, not a reject)"),
    "length_mismatch": ("read", "a spelling-correction pair whose sides differ in length"),
    "tags_length_mismatch": ("read", "NER: tokens and tags differ in number"),
    "invalid_tag_id": ("read", "NER: a tag id outside the tag set"),
    "span_mismatch": ("read", "CLUENER: an entity span does not hold the entity text"),
    "unknown_entity_type": ("read", "CLUENER: an entity type outside the ten types"),
    "span_not_in_text": ("read", "CLUEWSC: a span is not at its index in the text"),
    "answer_not_in_context": ("read", "an extractive answer that is not a span of its passage"),
    "answer_not_in_choices": ("read", "C3: the answer is not one of the choices"),
    "too_few_choices": ("read", "C3: fewer than two choices"),
    "answer_out_of_range": ("read", "ChID: the answer index is outside the candidate list"),
    "answer_not_in_options": ("read", "biomedical QA: the answer letter has no option"),
    "option_letters_misaligned": ("read", "biomedical QA: option letters repeat, go backwards or stop halfway"),
    "answer_option_lost_in_shift": ("read", "biomedical QA: a shifted option list lost the option the answer names"),
    "equation_not_x": ("read", "Math23K: the equation does not solve for x"),
    "answer_differs_from_equation": ("read", "Math23K: the stated answer is not what the equation gives"),
    "conflicting_labels": ("read", "BDCI 2019: two labels for one id"),
    "label_without_text": ("read", "BDCI 2019: a label for an id the text file does not have"),
    "unlabeled": ("read", "BDCI 2019: a text with no label"),
    "no_arguments": ("read", "CCKS 2021 event: an event with no arguments"),
    "argument_not_in_text": ("read", "CCKS 2021 event: an argument that is not in the text"),
    "no_documents": ("read", "XQA: a question whose documents are all empty"),
    "no_gold_evidence": ("read", "CHEF: a claim without gold evidence sentences"),
    "no_rationale": ("read", "DuExplain: an instance without a rationale"),
    "rationale_out_of_range": ("read", "DuExplain: a rationale index outside the text"),
    "no_positive_response": ("read", "Douban: a context without its true response"),
    "no_negative_response": ("read", "Douban: a context without a wrong candidate"),
    "unk_in_summary": ("read", "AdvertiseGen: the summary holds the literal <UNK> token"),
    "self_triple": ("read", "DuIE: a triple whose subject and object are the same text"),
    "triple_not_in_text": ("read", "DuIE: a triple whose subject or object is not in the sentence"),
    "out_of_scope:": ("read", "left out by design (another language in a multilingual file); counted, not a reject"),
    # normalising fields (spec)
    "missing_field:": ("normalise", "a required field has no value in the row: its key or column is absent (a JSON object without the key, a CSV row with fewer cells than the header) or null"),
    "empty_field:": ("normalise", "a required field's value is empty: an empty CSV/TSV cell, a JSON \"\", only whitespace, or an empty list"),
    "invalid_label:": ("normalise", "a label value that is not in the field's map"),
    "too_long:": ("normalise", "a field over its limit whose spec says on_cut: drop (summaries: a cut text would make targets about what the input lost)"),
    "too_long_to_truncate:": ("normalise", "one sentence or turn alone is over the field's limit, so no whole-unit cut fits"),
    # planning (mixture, few-shot)
    "held_for_exemplars": ("plan", "kept in the few-shot pool; exemplars never serve as queries"),
    "over_quota": ("plan", "the task's share of the corpus is full"),
    # rendering and checking records
    "render_error:": ("render", "the template named failed on this row (a missing attribute, a division by zero)"),
    "empty_inputs": ("check", "the rendered input is empty"),
    "empty_targets": ("check", "the rendered target is empty"),
    "inputs_too_long": ("check", "the rendered input is over limits.inputs_max_chars"),
    "targets_too_long": ("check", "the rendered target is over limits.targets_max_chars"),
    "targets_too_short": ("check", "the rendered target is under limits.targets_min_chars"),
    "target_not_in_choices": ("check", "a template that answers with an option rendered something that is not one"),
    "template_residue": ("check", "template syntax ({{ or {%) in the output that no field value carried"),
    # corpus-level steps
    "contaminated:": ("corpus", "the row leaks an item of the evaluation set named"),
    "near_duplicate": ("corpus", "MinHash near-duplicate of a row kept earlier (across tasks)"),
    "duplicate": ("corpus", "same inputs and targets as a record kept earlier"),
}


def known(reason: str) -> bool:
    """Whether ``reason`` is in the table, directly or as a member of a family."""
    if reason in DROP_REASONS:
        return True
    family = reason.split(":", 1)[0] + ":"
    return ":" in reason and family in DROP_REASONS


def render_reasons() -> str:
    lines = ["# Drop reasons", "",
             "Generated from `flanzh/spec/reasons.py` by `flanzh catalog`; do not edit by hand. Every "
             "dropped row or record is counted in `manifest.json` under one of these names (a name "
             "ending in `:` is followed by the field, template or evaluation set), so rows read + "
             "rows repeated = rows written + rows dropped for every task.", ""]
    for stage in STAGES:
        lines += [f"## {stage}", "", "| reason | meaning |", "|---|---|"]
        for name, (where, meaning) in DROP_REASONS.items():
            if where == stage:
                shown = f"{name}<…>" if name.endswith(":") else name
                cell = meaning.replace("|", "\\|")
                lines.append(f"| `{shown}` | {cell} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
