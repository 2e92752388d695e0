using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Steering;

/// <summary>
/// ACT, the attention calibration technique (Yu et al., ICML 2024): in the chosen heads, on every input, the keys other
/// than the first that draw more than <see cref="Threshold"/> of the attention on average over the queries that see them
/// (hidden attention sinks, found by <see cref="Sinks"/>) keep only <see cref="Beta"/> of their attention, and what they
/// give up goes to the other keys of the row in proportion to their attention. The heads come from <see cref="Search"/>.
/// </summary>
public sealed record AttentionCalibration(IReadOnlyList<HeadRef> Heads, double Threshold = AttentionCalibration.PaperThreshold,
    double Beta = AttentionCalibration.PaperBeta) : ISteering
{
    /// <summary>The released code's settings (scripts/calibration.sh: THRES=0.1, BETA=0.4).</summary>
    public const double PaperThreshold = 0.1, PaperBeta = 0.4;

    public string Method => "act";

    public static readonly IReadOnlyList<SteeringParams.Key> Keys =
    [
        new("threshold", $"mean attention above which a key is a hidden sink ({PaperThreshold})", 0, 1, MinExclusive: true),
        new("beta", $"share of its attention a sink keeps ({PaperBeta})", 0, 1),
    ];

    /// <summary>Threshold and beta from `--steer-params` (the paper's otherwise).</summary>
    public static (double Threshold, double Beta) Parse(string? text)
    {
        var p = SteeringParams.Parse("act", text, Keys);
        return (p.Get("threshold", PaperThreshold), p.Get("beta", PaperBeta));
    }

    public AttentionCalibration Check(ModelSpec spec)
    {
        SteeringChecks.Fraction(Threshold, "threshold", Method, zeroAllowed: false);
        SteeringChecks.Fraction(Beta, "beta", Method, zeroAllowed: true);
        SteeringChecks.Heads(Heads, spec, Method);
        return this;
    }

    public void Register(HookSet hooks)
    {
        foreach (var layer in Heads.GroupBy(h => h.Layer))
            hooks.AddForHeads(HookNames.ForLayer(layer.Key).Pattern, [.. layer.Select(h => h.Head)], Calibrate);
    }

    public JsonObject ToJson() => new()
    {
        ["heads"] = new JsonArray([.. Heads.Select(h => (JsonNode)h.ToString())]),
        ["threshold"] = Threshold, ["beta"] = Beta,
    };

    /// <summary>
    /// Per head of <paramref name="pattern"/> [B, H, T, S] (queries are the last T of S keys), true at the keys that are
    /// sinks: position >= 1 and a mean attention over the queries that can see the key above <paramref name="threshold"/>.
    /// </summary>
    public static Tensor Sinks(Tensor pattern, double threshold)
    {
        long t = pattern.shape[2], s = pattern.shape[3], start = s - t;
        // Query i (absolute start + i) sees key j when j <= start + i: key j is seen by s - max(j, start) queries.
        var seenBy = torch.tensor(Enumerable.Range(0, (int)s).Select(j => (float)(s - Math.Max(j, start))).ToArray());
        var mean = pattern.sum(2) / seenBy; // [B, H, S]
        using Scalar limit = threshold;
        return mean.gt(limit).logical_and(torch.arange(s).gt(HeldScalars.Zero)); // the first token is never a hidden sink
    }

    private Tensor Calibrate(Tensor p) // [B, h, T, S]
    {
        var sinks = Sinks(p, Threshold).unsqueeze(2).expand_as(p);
        var sinkMass = torch.where(sinks, p, torch.zeros_like(p)).sum(-1, keepdim: true);
        var otherMass = (torch.ones_like(sinkMass) - sinkMass);
        using Scalar beta = Beta, kept = 1 - Beta;
        // Each non-sink key gains its share of what the sinks give up; a row with nothing else to give it to stays as it was.
        var gain = (sinkMass * kept / otherMass.clamp_min(HeldScalars.ProbabilityFloor)).Plus(torch.ones_like(sinkMass));
        var calibrated = torch.where(sinks, p * beta, p * gain);
        return torch.where(otherMass.gt(HeldScalars.ProbabilityFloor), calibrated, p);
    }

    /// <summary>
    /// The paper's head selection on a development split: each head is calibrated alone, and kept when that raises the dev
    /// score above the unsteered model's. The result calibrates all kept heads together.
    /// </summary>
    public static (AttentionCalibration Steering, List<(HeadRef Head, double Gain)> Gains, double Baseline) Search(ModelSpec spec, DevScore score,
        double threshold = PaperThreshold, double beta = PaperBeta)
    {
        double baseline = score(null);
        var gains = HeadRef.All(spec).Select(h => (Head: h, Gain: score(new HookSet().Add(new AttentionCalibration([h], threshold, beta))) - baseline)).ToList();
        return (new AttentionCalibration([.. gains.Where(g => g.Gain > 0).Select(g => g.Head)], threshold, beta), gains, baseline);
    }
}
