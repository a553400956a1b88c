"""Each field's own metrics: ROUGE-1/2/L/Lsum (rouge-score) for summarisation, BLEU and chrF (sacrebleu)
for translation, equal to the packages called directly on real sentences."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from prefixes.metrics import bleu, chrf, rouge

# newstest-style German -> English outputs beside their references.
TRANSLATIONS = ["The government wants to lower taxes for small companies next year.",
                "Police said two people were injured in the accident on Sunday.",
                "The museum will open again in the spring after the renovation."]
TRANSLATION_REFERENCES = ["The government plans to cut taxes for small businesses next year.",
                          "Two people were hurt in Sunday's accident, police said.",
                          "After its renovation, the museum will reopen in spring."]
# Paper-abstract TL;DRs: the second summary has two sentences, one per line, so ROUGE-Lsum differs from ROUGE-L.
SUMMARIES = ["We propose a prefix method that tunes few parameters and matches fine-tuning.",
             "A new dataset for question answering.\nModels trained on it transfer to other domains."]
SUMMARY_REFERENCES = ["A lightweight prefix tuning method that matches full fine-tuning with few parameters.",
                      "Models trained on our question answering dataset transfer well.\nWe release a new dataset."]


def test_rouge_1_2_l_lsum_equal_rouge_scores_own():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])
    direct = [scorer.score(ref, pred) for pred, ref in zip(SUMMARIES, SUMMARY_REFERENCES)]
    scores = rouge(SUMMARIES, SUMMARY_REFERENCES)
    for name, kind in {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL", "rouge_lsum": "rougeLsum"}.items():
        assert scores[name] == pytest.approx(sum(s[kind].fmeasure for s in direct) / 2, abs=1e-12), name
    assert scores["rouge_lsum"] != scores["rouge_l"]  # sentence-level LCS over the two-line summary
    assert 0 < scores["rouge_2"] < scores["rouge_1"] < 1


def test_rouge_takes_each_variants_best_reference():
    references = [[SUMMARY_REFERENCES[0], SUMMARIES[0]], [SUMMARY_REFERENCES[1]]]
    scores = rouge(SUMMARIES, references)
    assert scores["rouge_1"] == pytest.approx((1.0 + rouge(SUMMARIES[1:], SUMMARY_REFERENCES[1:])["rouge_1"]) / 2)


def test_bleu_and_chrf_equal_sacrebleus_own():
    assert bleu(TRANSLATIONS, TRANSLATION_REFERENCES) == sacrebleu.corpus_bleu(TRANSLATIONS, [TRANSLATION_REFERENCES]).score
    expected = sacrebleu.corpus_chrf(TRANSLATIONS, [TRANSLATION_REFERENCES]).score
    assert chrf(TRANSLATIONS, TRANSLATION_REFERENCES) == expected
    assert 30 < expected < 90
    assert chrf(TRANSLATIONS, TRANSLATIONS) == pytest.approx(100.0)


def test_chrf_with_several_references_per_sentence_uses_sacrebleus_streams():
    references = [[TRANSLATION_REFERENCES[0], TRANSLATIONS[0]], [TRANSLATION_REFERENCES[1]], [TRANSLATION_REFERENCES[2]]]
    streams = [TRANSLATION_REFERENCES, [TRANSLATIONS[0], None, None]]
    assert chrf(TRANSLATIONS, references) == sacrebleu.corpus_chrf(TRANSLATIONS, streams).score
    assert chrf(TRANSLATIONS, references) > chrf(TRANSLATIONS, TRANSLATION_REFERENCES)
