"""BLEU and ROUGE-L against several references per prediction."""

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from prefixes.metrics import bleu, rouge_l

PREDICTIONS = ["the inn is by the river", "a cheap pub near the centre", "blue spice serves french food"]
REFERENCES = [
    ["the inn lies by the river", "by the river there is an inn", "riverside inn"],
    ["a cheap pub in the city centre"],
    ["blue spice serves french food", "french food is served at blue spice"],
]


def test_multi_reference_bleu_equals_sacrebleus_own_on_the_same_lists():
    # sacrebleu's reference streams: stream i holds each prediction's i-th reference, None if it has fewer.
    streams = [
        ["the inn lies by the river", "a cheap pub in the city centre", "blue spice serves french food"],
        ["by the river there is an inn", None, "french food is served at blue spice"],
        ["riverside inn", None, None],
    ]
    expected = sacrebleu.corpus_bleu(PREDICTIONS, streams).score
    assert bleu(PREDICTIONS, REFERENCES) == expected
    assert 0 < expected < 100
    # Every reference counts: dropping all but the first lowers the score.
    assert bleu(PREDICTIONS, [refs[0] for refs in REFERENCES]) < expected


def test_multi_reference_bleu_with_equal_counts_and_single_strings():
    two_each = [refs[:1] + ["a different sentence entirely"] for refs in REFERENCES]
    streams = [[refs[0] for refs in two_each], [refs[1] for refs in two_each]]
    assert bleu(PREDICTIONS, two_each) == sacrebleu.corpus_bleu(PREDICTIONS, streams).score
    # A plain string is one reference, exactly as before.
    single = [refs[0] for refs in REFERENCES]
    assert bleu(PREDICTIONS, single) == sacrebleu.corpus_bleu(PREDICTIONS, [single]).score
    # A prediction equal to any of its references is a perfect match.
    assert bleu(["french food is served at blue spice"], [REFERENCES[2]]) == pytest.approx(100.0)


def test_multi_reference_rouge_l_takes_the_best_reference():
    # "the cat sat" against "the cat sat on the mat" (F 2/3) and "a cat sat" (LCS 2 of 3 and 3: F 2/3)
    # and "the cat sat" (F 1): the best is 1. The second prediction has one reference: F 2/3.
    score = rouge_l(["the cat sat", "the cat sat"],
                    [["the cat sat on the mat", "a cat sat", "the cat sat"], ["the cat sat on the mat"]])
    assert score == pytest.approx((1.0 + 2 / 3) / 2)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = [max(scorer.score(ref, pred)["rougeL"].fmeasure for ref in refs)
                for pred, refs in zip(PREDICTIONS, REFERENCES)]
    assert rouge_l(PREDICTIONS, REFERENCES) == pytest.approx(sum(expected) / 3)


def test_an_empty_reference_list_is_refused():
    with pytest.raises(ValueError, match=r"references\[1\] is empty"):
        bleu(["a", "b"], [["a"], []])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        rouge_l(["a", "b"], [["a"]])
