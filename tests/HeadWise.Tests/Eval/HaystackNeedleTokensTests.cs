using HeadWise.Eval.Tasks;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivor HaystackBuilder.cs:69): a sample's NeedleTokens is the tokens of all its needles
/// together (the most the distractors before the asked needle can shift it), not the longest one. Word vocabulary:
/// one token per word.
/// </summary>
public class HaystackNeedleTokensTests
{
    [Fact]
    public void Needle_tokens_count_every_needle()
    {
        // BOS + "Read this" (3) + needles of 2, 3 and 5 words (10) + "What now" (2) = 15 fixed; 45 leaves 30 of filler.
        var needles = new[] { new Needle("Needle one", 0.5), new Needle("Needle number two", 0.1), new Needle("The third needle is here", 0.9) };
        var sentences = new[] { "Alpha", "Beta", "Gamma" }.Select(w => w + " " + string.Join(" ", Enumerable.Range(1, 9).Select(i => $"w{i}"))).ToList();
        var built = HaystackBuilder.Build(new SegmentEncoder(new WordTokenizer()), new SentenceSource(sentences), 0, 45,
            "Read this", needles, "What now", "test");
        Assert.Equal(45, built.Tokens.Length);
        Assert.Equal(2 + 3 + 5, built.NeedleTokens);
    }
}
