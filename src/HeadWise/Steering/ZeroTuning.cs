using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Models;

namespace HeadWise.Steering;

/// <summary>
/// ZeroTuning (Han et al., 2025): in the chosen heads, the attention every query gives the first token is multiplied by
/// <see cref="Scale"/> (γ) and each row renormalised (<see cref="AttentionToPositions.Scale"/> on position 0). γ below 1
/// sharpens what the head reads from the other tokens, above 1 flattens it. The heads and γ come from <see cref="Search"/>.
/// </summary>
public sealed record ZeroTuning(IReadOnlyList<HeadRef> Heads, double Scale) : ISteering
{
    public string Method => "zerotuning";

    /// <summary>Checks the parameters against the model: γ finite and positive, every head in range.</summary>
    public ZeroTuning Check(ModelSpec spec)
    {
        if (!(Scale > 0) || double.IsInfinity(Scale)) throw new HeadWiseException($"zerotuning: scale {Scale} must be a finite number > 0");
        SteeringChecks.Heads(Heads, spec, Method);
        return this;
    }

    public void Register(HookSet hooks)
    {
        foreach (var h in Heads) AttentionToPositions.Scale(h.Layer, h.Head, [0], Scale).Register(hooks);
    }

    public JsonObject ToJson() => new()
    {
        ["heads"] = new JsonArray([.. Heads.Select(h => (JsonNode)h.ToString())]),
        ["scale"] = Scale,
    };

    /// <summary>
    /// The training-free search on a development split (supervised mode: <paramref name="score"/> is dev accuracy).
    /// 1. Profile: each head alone at γ = <see cref="SearchOptions.ProbeDown"/> and at <see cref="SearchOptions.ProbeUp"/>.
    /// 2. Direction: down or up, whichever has the larger total gain; the heads that gain in it are kept.
    /// 3. One γ for all kept heads from that side of the grid, the best dev score (ties: the γ nearest 1).
    /// Nothing that does not beat the unsteered dev score is returned: then the result has no heads (scale 1).
    /// </summary>
    public static (ZeroTuning Steering, SearchLog Log) Search(ModelSpec spec, DevScore score, SearchOptions? options = null)
    {
        var o = options ?? new SearchOptions();
        var log = new SearchLog(score(null));
        var gains = HeadRef.All(spec).Select(h => (Head: h,
            Down: score(Hooks([h], o.ProbeDown)) - log.Baseline, Up: score(Hooks([h], o.ProbeUp)) - log.Baseline)).ToList();
        double down = gains.Sum(g => Math.Max(0, g.Down)), up = gains.Sum(g => Math.Max(0, g.Up));
        bool lower = down >= up;
        var heads = gains.Where(g => (lower ? g.Down : g.Up) > 0).OrderByDescending(g => lower ? g.Down : g.Up).Select(g => g.Head).ToList();
        log.Profile.AddRange(gains.Select(g => (g.Head, g.Down, g.Up)));
        if (heads.Count == 0) return (new ZeroTuning([], 1), log);
        var best = (Scale: 1.0, Score: log.Baseline);
        foreach (var gamma in o.Grid.Where(g => lower ? g < 1 : g > 1).OrderBy(g => Math.Abs(Math.Log(g))))
        {
            double s = score(Hooks(heads, gamma));
            log.Grid.Add((gamma, s));
            if (s > best.Score) best = (gamma, s);
        }
        return best.Scale == 1 ? (new ZeroTuning([], 1), log) : (new ZeroTuning(heads, best.Scale), log);
    }

    private static HookSet Hooks(IReadOnlyList<HeadRef> heads, double scale) => new HookSet().Add(new ZeroTuning(heads, scale));

    /// <summary>The search's γ values (HeadWise's grid; see docs/fidelity.md).</summary>
    public sealed record SearchOptions
    {
        public double ProbeDown { get; init; } = 0.5;
        public double ProbeUp { get; init; } = 1.5;
        public IReadOnlyList<double> Grid { get; init; } = [0.1, 0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2, 3];

        private static readonly SearchOptions Default = new();

        public static readonly IReadOnlyList<SteeringParams.Key> Keys =
        [
            new("down", $"the probe scale below 1 each head is tried at alone ({Default.ProbeDown})", 0, 1, MinExclusive: true),
            new("up", $"the probe scale above 1 ({Default.ProbeUp})", 1, 100, MinExclusive: true),
        ];

        public static SearchOptions Parse(string? text)
        {
            var p = SteeringParams.Parse("zerotuning", text, Keys);
            var d = Default;
            return d with { ProbeDown = p.Get("down", d.ProbeDown), ProbeUp = p.Get("up", d.ProbeUp) };
        }
    }

    /// <summary>What the search measured: the unsteered dev score, each head's gain at the two probes, each γ tried.</summary>
    public sealed class SearchLog(double baseline)
    {
        public double Baseline { get; } = baseline;
        public List<(HeadRef Head, double Down, double Up)> Profile { get; } = [];
        public List<(double Scale, double Score)> Grid { get; } = [];
    }
}
