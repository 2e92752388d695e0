using HeadWise.Training;

namespace HeadWise.Tests.Training;

public class BpeTrainerTests
{
    [Fact]
    public void Merges_follow_pair_frequency_with_ties_to_the_smaller_pair()
    {
        // One word "aaabdaaabac": "a a" occurs 4 times; then "aa a" and "a b" tie at 2 and "a b" (smaller ids) wins;
        // then "aa ab" occurs twice (the two "aaab").
        var v = BpeTrainer.Train("aaabdaaabac", 261);
        Assert.Equal(["a a", "a b", "aa ab"], v.Merges);
        Assert.Equal(["aa", "ab", "aaab"], v.Tokens[258..]);
        Assert.Equal("<s>", v.Tokens[v.BosId]);
        Assert.Equal("</s>", v.Tokens[v.EosId]);
        var tok = v.CreateTokenizer();
        Assert.Equal([0, 260, 2 + 'd', 260, 2 + 'a', 2 + 'c'], tok.Encode("aaabdaaabac", addBos: true));
    }

    [Fact]
    public void Trained_tokenizer_round_trips_any_text_and_compresses_english()
    {
        var text = File.ReadAllText(TestPaths.MobyDick)[..60_000];
        var v = BpeTrainer.Train(text, 512);
        Assert.Equal(512, v.Tokens.Length);
        Assert.Equal(v.Tokens.Length, v.Tokens.Distinct().Count());
        var tok = v.CreateTokenizer();
        var sample = File.ReadAllText(TestPaths.MobyDick).Substring(200_000, 5_000) + " naïve café — 東京 🐋 \t\r\n";
        var ids = tok.Encode(sample, addBos: false);
        Assert.Equal(sample, tok.Decode(ids));
        Assert.True(ids.Count < sample.Length / 1.8, $"{ids.Count} tokens for {sample.Length} characters");
    }
}
