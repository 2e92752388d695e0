using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Attribution;

/// <summary>What the residual stream after one stage would predict if it were the last: top token and the target's standing.</summary>
/// <param name="Stage">"embed" or "L" (after block L).</param>
/// <param name="TopToken">The most likely token at this stage.</param>
/// <param name="TopProbability">Its probability.</param>
/// <param name="TargetLogit">The target's logit, when a target is given.</param>
/// <param name="TargetProbability">The target's probability.</param>
/// <param name="TargetRank">The target's rank (0 = top).</param>
public sealed record LogitLensRow(string Stage, int TopToken, double TopProbability, double? TargetLogit, double? TargetProbability, int? TargetRank);

/// <summary>Logit lens: the real final norm and unembedding applied to the residual stream before layer 0 and after every layer.</summary>
public static class LogitLens
{
    /// <summary>The logit lens at <paramref name="position"/> (-1: last): the residual stream after each block through the final norm and unembedding.</summary>
    public static IReadOnlyList<LogitLensRow> Compute(Transformer model, Tensor tokens, int? target = null, long position = -1)
    {
        var spec = model.Spec;
        if (!spec.Causal) throw new HeadWiseException($"{spec.Architecture} is an encoder: it has no unembedding for a logit lens");
        if (target is < 0 || target >= spec.VocabSize) throw new HeadWiseException($"token id {target} is out of range (vocabulary {spec.VocabSize})");
        using var scope = torch.NewDisposeScope();
        long p = LogitDirection.ResolvePosition(position, tokens.shape[1]);
        var stages = new List<(string Stage, string Hook)> { ("embed", HookNames.ForLayer(0).ResidPre) };
        for (int l = 0; l < spec.Layers; l++) stages.Add(($"L{l}", HookNames.ForLayer(l).ResidPost));
        var (_, cache) = model.RunWithCache(tokens, stages.Select(s => new CaptureSpec(s.Hook, null, p, 1)));
        using var __ = cache;
        var rows = new List<LogitLensRow>();
        foreach (var (stage, hook) in stages)
        {
            var logits = model.Unembed(cache[hook][0, 0]); // [V]
            var probs = logits.softmax(-1);
            int top = (int)logits.argmax().ToInt64();
            double? tl = null, tp = null; int? rank = null;
            if (target is { } t)
            {
                tl = logits[t].ToSingle();
                tp = probs[t].ToSingle();
                rank = (int)logits.gt(logits[t]).sum().ToInt64();
            }
            rows.Add(new LogitLensRow(stage, top, probs[top].ToSingle(), tl, tp, rank));
        }
        return rows;
    }
}
