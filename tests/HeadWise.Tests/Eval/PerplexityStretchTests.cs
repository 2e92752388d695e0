using HeadWise.Eval;
using HeadWise.Eval.Tasks;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in PerplexityTask): a perplexity prompt is BOS and a contiguous stretch of the text
/// read forwards from a drawn sentence (wrapping at the end), cut to the length; perplexity has no depth axis.
/// Twelve four-word sentences of distinct words on a word vocabulary, so the expected words are known by hand.
/// </summary>
public class PerplexityStretchTests
{
    private static readonly string[] Names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet", "Kilo", "Lima"];

    private static string[] Words(int sentence)
    {
        var n = Names[sentence % Names.Length];
        return [n, n.ToLowerInvariant() + "x", n.ToLowerInvariant() + "y", n.ToLowerInvariant() + "z."];
    }

    [Fact]
    public void A_perplexity_prompt_is_the_text_read_forwards_from_its_first_sentence()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "twelve.txt");
        File.WriteAllText(path, string.Join(" ", Enumerable.Range(0, 12).Select(i => string.Join(" ", Words(i)))));
        var tok = new WordTokenizer();
        var o = new TaskOptions { Lengths = [11], Depths = [0.2, 0.8], Samples = 4, Seed = 2, HaystackPath = path };
        var samples = TaskRegistry.Create("perplexity").Generate(tok, o);
        Assert.Equal(4, samples.Count);
        for (int s = 0; s < 4; s++)
        {
            int first = new Random(TaskGrid.Mix(2, 11, 0, s)).Next(12);
            // BOS, then 10 words: sentences first, first + 1 and the first two words of first + 2.
            var words = Enumerable.Range(first, 3).SelectMany(Words).Take(10);
            Assert.Equal(0, samples[s].Tokens[0]);
            Assert.Equal(string.Join(" ", words), tok.Decode(samples[s].Tokens));
            Assert.Equal((11, 1, (double?)null, (int?)null), (samples[s].Tokens.Length, samples[s].ScoredFrom, samples[s].Depth, samples[s].ContextEnd));
        }
    }
}
