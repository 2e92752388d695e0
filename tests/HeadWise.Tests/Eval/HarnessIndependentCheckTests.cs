using System.Text.RegularExpressions;
using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Tests.Eval;

/// <summary>
/// The harness against a loop that shares none of its code (issue 23): for passkey, niah and multikey on the shipped
/// testbed, each prompt is decoded greedily by calling Transformer.Forward on the whole sequence for every new token (no
/// KV cache, no generator, no harness), and the text must be what the harness reports; each score is then recomputed
/// by hand from that text. A harness that dropped or altered what the model generated cannot pass.
/// </summary>
public class HarnessIndependentCheckTests
{
    private static readonly Lazy<LoadedModel> Testbed = new(() =>
        ModelLoader.Load(Path.Combine(Packaging.PackedPackages.RepoRoot, "models", "testbed-2k", "model.gguf")));

    [Theory]
    [InlineData("passkey")]
    [InlineData("niah")]
    [InlineData("multikey")]
    public void Harness_outputs_equal_a_plain_greedy_loop_over_forward(string name)
    {
        var m = Testbed.Value;
        var task = TaskRegistry.Create(name);
        var o = new TaskOptions { Lengths = [name == "multikey" ? 640 : 320], Depths = [0.3, 0.7], Samples = 1, Seed = 11, HaystackPath = TestPaths.MobyDick };
        var r = BenchRunner.Run(m, task, o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context));
        var samples = task.Generate(m.Tokenizer, o);
        Assert.NotNull(r.Answers);
        Assert.Equal(samples.Count, r.Answers!.Count);
        for (int i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            var text = m.Tokenizer.Decode(GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens));
            Assert.False(string.IsNullOrWhiteSpace(text), "the model generated nothing: the comparison would say little");
            Assert.Equal(text, r.Answers[i].Output);
            Assert.Equal(HandScore(s, text), r.Answers[i].Score, 12);
        }
    }

    /// <summary>
    /// The harness stops at the tokenizer's end-of-sequence token as the plain loop does: with EOS declared to be the
    /// first token the model writes that it has not written before, the harness reports only what came before it.
    /// </summary>
    [Fact]
    public void Harness_stops_at_the_end_of_sequence_token()
    {
        var m = Testbed.Value;
        var task = TaskRegistry.Create("passkey");
        var o = new TaskOptions { Lengths = [320], Depths = [0.5], Samples = 1, Seed = 11, HaystackPath = TestPaths.MobyDick };
        var s = task.Generate(m.Tokenizer, o)[0];
        var free = GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens);
        int k = Enumerable.Range(1, free.Count - 1).First(i => !free.Take(i).Contains(free[i]));
        var stopping = new LoadedModel(m.Path, m.Format, m.Transformer, new EosAt(m.Tokenizer, free[k]));   // shares m's weights: not disposed
        var r = BenchRunner.Run(stopping, task, o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context));
        Assert.Equal(m.Tokenizer.Decode(free.Take(k)), r.Answers![0].Output);
    }

    /// <summary>A tokenizer that is <paramref name="inner"/> except that <paramref name="eos"/> ends a sequence.</summary>
    internal sealed class EosAt(HeadWise.Tokenizers.ITokenizer inner, int eos) : HeadWise.Tokenizers.ITokenizer
    {
        public string Kind => inner.Kind;
        public int VocabSize => inner.VocabSize;
        public int? BosId => inner.BosId;
        public int? EosId => eos;
        public bool AddBosByDefault => inner.AddBosByDefault;
        public IReadOnlyList<int> Encode(string text, bool addBos) => inner.Encode(text, addBos);
        public string Decode(IEnumerable<int> ids) => inner.Decode(ids);
        public string TokenLabel(int id) => inner.TokenLabel(id);
    }

    /// <summary>Greedy decoding, one full forward over prompt + generated tokens per new token; first maximum wins.</summary>
    internal static List<int> GreedyByFullForwards(LoadedModel m, int[] prompt, int maxNew)
    {
        var ids = prompt.ToList();
        var output = new List<int>();
        int budget = Math.Min(maxNew, m.Spec.ContextLength - prompt.Length);
        for (int i = 0; i < budget; i++)
        {
            using var scope = torch.NewDisposeScope();
            var input = torch.tensor(ids.Select(t => (long)t).ToArray(), [1, ids.Count]);
            var row = m.Transformer.Forward(input)[0, ids.Count - 1].to(torch.ScalarType.Float32).data<float>().ToArray();
            int next = 0;
            for (int v = 1; v < row.Length; v++) if (row[v] > row[next]) next = v;
            if (next == m.Tokenizer.EosId) break;
            output.Add(next);
            ids.Add(next);
        }
        return output;
    }

    /// <summary>
    /// The scores as their definitions say, written here: passkey and multikey, the first run of digits equals the answer;
    /// niah, ROUGE-1 recall: the share of the answer's words (lower-cased; letters, digits and apostrophes) found among
    /// the output's, each used once.
    /// </summary>
    internal static double HandScore(EvalSample s, string output)
    {
        if (s.Scoring == AnswerScoring.ExactNumber)
        {
            var digits = Regex.Match(output, "[0-9]+");
            return digits.Success && digits.Value == s.Answer!.Trim() ? 1 : 0;
        }
        static string[] Words(string t) => Regex.Matches(t.ToLowerInvariant(), @"[\p{L}\p{N}']+").Select(x => x.Value).ToArray();
        var expected = Words(s.Answer!);
        var got = Words(output).ToList();
        int hits = 0;
        foreach (var w in expected) if (got.Remove(w)) hits++;
        return (double)hits / expected.Length;
    }
}
