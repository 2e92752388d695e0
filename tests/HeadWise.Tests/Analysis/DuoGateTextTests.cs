using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Tests.Heads;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Issue 23 (DuoGateScore's uncovered mutants): with a tokenizer, DuoAttention's training samples are built from text.
/// Each template piece is encoded without BOS (the sample holds one BOS, at its start), and the haystack is the probe
/// documents end to end with each document's own BOS dropped.
/// </summary>
public sealed class DuoGateTextTests
{
    /// <summary>Each text is one token (a hash of it), so the templates fit the tiny model's 64-token context; records addBos.</summary>
    private sealed class OneTokenPerText(int vocab) : ITokenizer
    {
        public List<bool> AddBos { get; } = [];
        public string Kind => "llama";
        public int VocabSize => vocab;
        public int? BosId => 1;
        public int? EosId => 2;
        public bool AddBosByDefault => true;

        public IReadOnlyList<int> Encode(string text, bool addBos)
        {
            AddBos.Add(addBos);
            uint h = 2166136261;
            foreach (char c in text) h = (h ^ c) * 16777619;
            int id = 3 + (int)(h % (uint)(vocab - 3));
            return addBos ? [1, id] : [id];
        }

        public string Decode(IEnumerable<int> ids) => string.Join(" ", ids);
        public string TokenLabel(int id) => id.ToString();
    }

    [Fact]
    public void Training_text_is_encoded_without_bos()
    {
        var tok = new OneTokenPerText(64);
        List<int[]> probes = [[1, 5, 6, 7, 8, 9], [1, 10, 11, 12, 13, 14]];
        using var ctx = new ProfileContext(TinyModels.Build("llama"), tok, probes, seed: 3);
        var training = new DuoGateTraining { Steps = 1, Sinks = 1, Recent = 4, Passkeys = 1, PasskeyWords = 1, MinLength = 8, MaxLength = 10, LengthIntervals = 1 };
        var (gates, loss) = new DuoGateScore(training).Optimise(ctx);
        Assert.Single(loss);
        Assert.True(tok.AddBos.Count >= 5, $"{tok.AddBos.Count} texts encoded: the templates were not encoded with the tokenizer");
        Assert.All(tok.AddBos, Assert.False);
    }

    [Fact]
    public void The_haystack_is_the_probes_end_to_end_without_their_bos()
    {
        var tok = new OneTokenPerText(64);
        using (var ctx = new ProfileContext(TinyModels.Build("llama"), tok, [[1, 5, 6], [1, 7, 8]]))
            Assert.Equal([5, 6, 7, 8], DuoGateScore.Haystack(ctx));
        // Documents that do not start with BOS keep their first token; without a tokenizer nothing is dropped.
        using (var ctx = new ProfileContext(TinyModels.Build("llama"), tok, [[4, 5, 6], [1, 7, 8]]))
            Assert.Equal([4, 5, 6, 7, 8], DuoGateScore.Haystack(ctx));
        using (var ctx = new ProfileContext(TinyModels.Build("llama"), null, [[1, 5, 6], [1, 7, 8]]))
            Assert.Equal([1, 5, 6, 1, 7, 8], DuoGateScore.Haystack(ctx));
    }
}
