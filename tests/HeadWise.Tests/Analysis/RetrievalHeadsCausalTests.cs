using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// The Retrieval Head paper's causal check on stories260K: zero-ablating the top-K retrieval heads hurts copying (a random token
/// sequence repeated; accuracy of next-token predictions over the second copy) far more than ablating K random heads.
/// </summary>
public sealed class RetrievalHeadsCausalTests(ITestOutputHelper output)
{
    [Fact]
    public void A_needle_too_long_for_the_context_is_refused_with_a_clear_error()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 2, 64);
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, seed: 1);
        int needle = m.Spec.ContextLength / 2; // needle and its answer fill the whole context
        var e = Assert.Throws<HeadWiseException>(() => new RetrievalScore(needleLength: needle).Compute(ctx));
        Assert.Contains($"{needle}-token needle", e.Message);
        Assert.Contains($"{m.Spec.ContextLength}-token context", e.Message);
    }

    [Fact]
    public void MaskingTopRetrievalHeadsHurtsCopyingMoreThanRandomHeads()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, 4, 64);
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, seed: 1);
        var retrieval = new RetrievalScore(prompts: 24, needleLength: 16, cue: 3, haystack: 12).Compute(ctx)[0];
        const int k = 4;
        var top = retrieval.Ranked().Take(k).ToList();
        var text = m.Tokenizer.Encode(ProbeSet.DefaultText, false).ToArray();
        using var seqs = CopySequences(text, count: 16, length: 20, seed: 3);
        double clean = CopyAccuracy(m.Transformer, seqs, []);
        double masked = CopyAccuracy(m.Transformer, seqs, top);
        var rng = new Random(7);
        var all = Enumerable.Range(0, m.Spec.Layers).SelectMany(l => Enumerable.Range(0, m.Spec.Heads).Select(h => (l, h))).ToList();
        var random = Enumerable.Range(0, 12).Select(_ => CopyAccuracy(m.Transformer, seqs, all.OrderBy(_ => rng.Next()).Take(k).ToList())).ToList();
        output.WriteLine($"retrieval answer accuracy {retrieval.Params!["answer_token_accuracy"]}, prompts answered {retrieval.Params!["prompts_answered"]}; top-{k} heads {string.Join(", ", top.Select(p => $"{p.Layer}.{p.Head}"))}");
        output.WriteLine($"copy accuracy clean {clean:F3}, top-{k} masked {masked:F3}, random-{k} masked mean {random.Average():F3} (min {random.Min():F3}, max {random.Max():F3}, 12 draws)");
        Assert.True(clean > 0.5, $"stories260K should copy a repeated sequence (accuracy {clean:F3})");
        Assert.True(masked < random.Min(), $"top-{k} masked {masked:F3} should be below every random draw (min {random.Min():F3})");
        Assert.True(clean - masked > 3 * (clean - random.Average()), $"top-{k} drop {clean - masked:F3} vs random drop {clean - random.Average():F3}");
    }

    /// <summary>[N, 1 + 2L]: BOS, a span of story text at a random offset, the same span again (stories260K cannot copy byte noise).</summary>
    internal static Tensor CopySequences(int[] text, int count, int length, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<long>();
        for (int i = 0; i < count; i++)
        {
            int at = rng.Next(text.Length - length);
            var r = text.Skip(at).Take(length).Select(t => (long)t).ToArray();
            rows.Add(1); rows.AddRange(r); rows.AddRange(r);
        }
        return torch.tensor(rows.ToArray(), [count, 1 + 2 * length]);
    }

    /// <summary>Share of second-copy tokens (after its first) that greedy next-token prediction gets right with <paramref name="masked"/> heads zeroed.</summary>
    internal static double CopyAccuracy(Transformer model, Tensor seqs, List<(int Layer, int Head)> masked)
    {
        using var scope = torch.NewDisposeScope();
        var hooks = new HookSet();
        foreach (var (l, h) in masked) hooks.Add(HeadAblation.Zero(l, h));
        long len = (seqs.shape[1] - 1) / 2;
        var logits = model.Forward(seqs, null, hooks);
        // Predictions at positions len+1 .. 2len-1 target tokens len+2 .. 2len (the second copy after its first token).
        var pred = logits.narrow(1, len + 1, len - 1).argmax(-1);
        var target = seqs.narrow(1, len + 2, len - 1);
        return pred.eq(target).to_type(ScalarType.Float32).mean().item<float>();
    }
}
