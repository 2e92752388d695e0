using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// AttentionInfluence (Hua et al., 2025): a data-selection signal from a small model. The retrieval heads (the top
/// <c>share</c> of heads by the <c>retrieval</c> score, the paper's 5%; at least one, only heads scoring above 0) are
/// masked together (their attention output set to zero), and each probe document gets its relative loss change
/// (L_masked - L_clean) / L_clean, the AttentionInfluence score; documents are ranked by it (highest first: the
/// documents that lean on retrieval). The map marks the masked heads (1); the parameters hold the documents' scores and
/// ranking. The paper finds retrieval heads with its own synthetic retrieval task; here the atlas's <c>retrieval</c>
/// score (computed first when the profile has not).
/// </summary>
public sealed class AttentionInfluenceScore(double share = 0.05) : IHeadScore
{
    public string Name => "attention-influence";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs a next-token loss and the retrieval score (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        var retrieval = ctx.MapOrCompute("retrieval", () => new RetrievalScore().Compute(ctx)[0]);
        var masked = MaskedHeads(retrieval, share);
        var values = HeadMap.Zeros(layers, heads);
        foreach (var (l, h) in masked) values[l][h] = 1;
        var ps = new JsonObject
        {
            ["share"] = share, ["masking"] = "zero attention output, all masked heads together", ["documents"] = ctx.Probes.Count,
            ["masked_heads"] = new JsonArray(masked.Select(p => (JsonNode)$"{p.Layer}.{p.Head}").ToArray()),
        };
        if (masked.Count == 0)
        {
            ctx.Progress("attention-influence: the retrieval score is 0 for every head, so there are no retrieval heads to mask");
            return [new HeadMap(Name, values, ps)];
        }
        var (clean, weak) = Losses(ctx, masked);
        var influence = clean.Zip(weak, (c, w) => (w - c) / c).ToArray();
        ps["clean_loss"] = new JsonArray(clean.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());
        ps["masked_loss"] = new JsonArray(weak.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());
        ps["influence"] = new JsonArray(influence.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());
        ps["ranking"] = new JsonArray(Enumerable.Range(0, influence.Length).OrderByDescending(i => influence[i]).Select(i => (JsonNode)i).ToArray());
        return [new HeadMap(Name, values, ps)];
    }

    /// <summary>The top <paramref name="share"/> of heads by retrieval score (at least one), among those scoring above 0.</summary>
    internal static List<(int Layer, int Head)> MaskedHeads(HeadMap retrieval, double share)
    {
        int count = Math.Max(1, (int)Math.Ceiling(share * retrieval.Layers * retrieval.Heads));
        return retrieval.Ranked().Where(p => retrieval[p.Layer, p.Head] > 0).Take(count).ToList();
    }

    /// <summary>Mean next-token loss of each probe document, clean and with <paramref name="masked"/> heads zeroed together.</summary>
    internal static (double[] Clean, double[] Masked) Losses(ProfileContext ctx, IReadOnlyList<(int Layer, int Head)> masked)
    {
        using var scope = torch.NewDisposeScope();
        using var ids = ctx.ProbeBatch();
        var hooks = ctx.NewHooks();
        foreach (var (l, h) in masked) hooks.Add(HeadAblation.Zero(l, h));
        var clean = ImportanceScore.DocLoss(ctx.Model.Forward(ids, null, ctx.NewHooks()), ids).to_type(ScalarType.Float64).data<double>().ToArray();
        var weak = ImportanceScore.DocLoss(ctx.Model.Forward(ids, null, hooks), ids).to_type(ScalarType.Float64).data<double>().ToArray();
        return (clean, weak);
    }
}
