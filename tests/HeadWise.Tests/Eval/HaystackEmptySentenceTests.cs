using HeadWise.Eval.Tasks;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's no-coverage mutant HaystackBuilder.cs:33): a filler sentence that encodes to no token is not a
/// sentence. It adds no boundary a needle could take, so needles stay separated by real filler, and it does not count
/// towards the filler sentences several needles need. Word-level vocabulary: every word is one token, "Hush" silences.
/// </summary>
public class HaystackEmptySentenceTests
{
    private static string Words(string first, int n) => first + " " + string.Join(" ", Enumerable.Range(1, n - 1).Select(i => $"w{i}"));

    private static HaystackBuilder.Built Build(IReadOnlyList<string> sentences, int length, IReadOnlyList<Needle> needles) =>
        HaystackBuilder.Build(new SegmentEncoder(new WordTokenizer(silent: "Hush")), new SentenceSource(sentences), 0, length,
            "Read this", needles, "What now", "test");

    [Fact]
    public void A_sentence_with_no_tokens_adds_no_needle_boundary()
    {
        // BOS + "Read this" = 3 tokens, three 2-token needles, a 2-token question: 11 fixed; length 43 leaves 32 of filler:
        // a 10-word sentence, a silent one, a 22-word one; boundaries at filler offsets 0, 10 and the end (32).
        var needles = new[] { new Needle("Needle one", 0.3), new Needle("Needle two", 0.31), new Needle("Needle three", 0.9) };
        var built = Build([Words("Alpha", 10), "Hush hush hush", Words("Beta", 22)], 43, needles);
        // Needle one: depth 0.3 x 32 = 9.6, nearest boundary 10. Needle two: 9.92, boundary 10 taken: 0 (9.92 away) beats
        // 32. Needle three: 28.8 -> 32. Layout: 3 head, needle two at 3, 10 filler, needle one at 15, 22 filler, needle three at 39.
        Assert.Equal([15, 3, 39], built.NeedleStarts);
        Assert.Equal(43, built.Tokens.Length);
        Assert.Equal(41, built.HaystackEnd);
        Assert.Equal(22, built.MaxSentenceTokens);
    }

    [Fact]
    public void Silent_sentences_do_not_count_as_filler_between_needles()
    {
        // 3 + 4 x 2 + 2 = 13 fixed; length 45 leaves 32 filler tokens, all from one 40-word sentence after three silent ones.
        var needles = Enumerable.Range(0, 4).Select(i => new Needle($"Needle n{i}", 0.25 * i)).ToList();
        var e = Assert.Throws<HeadWiseException>(() => Build(["Hush a b", "Hush c d", "Hush e f", Words("Gamma", 40)], 45, needles));
        Assert.Equal("length 45 is too short for task test: 4 needles need at least 3 filler sentences between them", e.Message);
    }
}
