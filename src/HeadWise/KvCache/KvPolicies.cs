using System.Globalization;
using HeadWise.KvCache.Policies;
using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>The policy registry: policies by name, with optional <c>key=value</c> parameters (paper defaults otherwise).</summary>
public static class KvPolicies
{
    private delegate KvPolicy Factory(ModelSpec spec, KvBudget budget, HeadScores? atlas, Options o);

    private static readonly Dictionary<string, (string Help, Factory Make)> Known = new()
    {
        ["full"] = ("every position (baseline)", (s, b, a, o) => new FullPolicy(s)),
        ["streaming"] = ("StreamingLLM: sinks + recent (sinks=4)", (s, b, a, o) => new StreamingPolicy(s, b, o.Int("sinks", 4))),
        ["h2o"] = ("H2O: heavy hitters + recent (recent=0.5)", (s, b, a, o) => new H2oPolicy(s, b, o.Double("recent", 0.5))),
        ["snapkv"] = ("SnapKV: observation window votes (window=32, kernel=7)", (s, b, a, o) => new SnapKvPolicy(s, b, o.Int("window", 32), o.Int("kernel", 7))),
        ["pyramidkv"] = ("PyramidKV: SnapKV with budgets falling with depth (beta=20)",
            (s, b, a, o) => new PyramidKvPolicy(s, b, o.Int("window", 32), o.Int("kernel", 7), o.Double("beta", 20))),
        ["adakv"] = ("Ada-KV: top-k across a layer's heads with a floor (floor=0.2)",
            (s, b, a, o) => new AdaKvPolicy(s, b, o.Int("window", 32), o.Int("kernel", 7), o.Double("floor", 0.2))),
        ["headkv"] = ("HeadKV: per-head budgets from the atlas score 'retrieval' (beta=2)",
            (s, b, a, o) => new HeadKvPolicy(s, b, Atlas(a, "headkv"), o.String("score", "retrieval"), o.Double("beta", 2), o.Int("window", 32), o.Int("kernel", 7))),
        ["duo"] = ("DuoAttention: heads whose gate is at or above the sparsity quantile keep everything, the others the sinks + recent window the gates were trained with " +
                   "(sparsity=0.75 for MHA, 0.5 for GQA; threshold=G picks full heads by gate >= G instead; the budget does not apply)",
            (s, b, a, o) => new DuoPolicy(s, b, DuoPolicy.PatternFrom(Atlas(a, "duo"), s, o.String("score", "duo-gate")),
                Optional(o.Double("sparsity", double.NaN)), Optional(o.Double("threshold", double.NaN)))),
        ["taskkv"] = ("Task-KV: heterogeneous heads full, others sinks + recent + middle activations (full=0.2)",
            (s, b, a, o) => new TaskKvPolicy(s, b, Atlas(a, "taskkv"), o.Double("full", 0.2), o.Int("sinks", 4), o.Double("recent", 0.5), o.String("score", "heterogeneity"))),
        ["delta"] = ("DELTA: full first layers, selection layers pick top-k salient tokens, later layers keep selection + sinks + recent (full=2, select=1, sinks=4, recent=0.5)",
            (s, b, a, o) => new DeltaPolicy(s, b, o.Int("full", 2), o.Int("select", 1), o.Int("sinks", 4), o.Double("recent", 0.5))),
        ["spatten"] = ("SpAtten: cascade token pruning by attention accumulated over layers (pruned stays pruned); cascade head pruning by output magnitude (heads=0)",
            (s, b, a, o) => new SpAttenPolicy(s, b, o.Double("heads", 0))),
        ["longheads"] = ("LongHeads: first + local chunk + the chunks whose mean key best matches the query (chunk=256)",
            (s, b, a, o) => new LongHeadsPolicy(s, b, o.Int("chunk", 256))),
        ["ems"] = ("EMS: global + local attention scores, evicted K/V merged into the most similar kept slot (window=32, alpha=0.5)",
            (s, b, a, o) => new EmsPolicy(s, b, o.Int("window", 32), o.Double("alpha", 0.5))),
    };

    /// <summary>Published policies this registry does not implement yet.</summary>
    public static readonly string[] Planned = [];

    public static IReadOnlyCollection<string> Names => Known.Keys;

    public static string Describe(string name) => Known.TryGetValue(name, out var k) ? k.Help : "";

    /// <summary>
    /// Creates policy <paramref name="name"/>; <paramref name="parameters"/> is "key=value,key=value" (e.g. "sinks=8").
    /// Policies that read head scores need <paramref name="atlas"/>.
    /// </summary>
    public static KvPolicy Create(string name, KvBudget budget, ModelSpec spec, HeadScores? atlas = null, string? parameters = null)
    {
        var key = RequireKnown(name);
        var entry = Known[key];
        var options = new Options(key, parameters);
        var policy = entry.Make(spec, budget, atlas, options);
        options.CheckAllUsed();
        return policy;
    }

    /// <summary>The normalised name; throws naming the known policies when <paramref name="name"/> is not one.</summary>
    public static string RequireKnown(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        if (Known.ContainsKey(key)) return key;
        var planned = Planned.Contains(key) ? $"'{name}' is not implemented yet. " : $"unknown KV policy '{name}'. ";
        throw new HeadWiseException(planned + $"Known policies: {string.Join(", ", Known.Keys)}");
    }

    /// <summary>A cache for <paramref name="policy"/>.</summary>
    public static HeadWiseCache CreateCache(ModelSpec spec, KvPolicy policy) => new(spec, policy);

    private static double? Optional(double x) => double.IsNaN(x) ? null : x;

    private static HeadScores Atlas(HeadScores? atlas, string policy) =>
        atlas ?? throw new HeadWiseException($"{policy} reads head scores: give an atlas (atlas.json{(policy == "duo" ? " or DuoAttention's full_attention_heads.tsv" : "")})");

    private sealed class Options
    {
        private readonly string _policy;
        private readonly Dictionary<string, string> _values = new();
        private readonly HashSet<string> _used = new();

        public Options(string policy, string? text)
        {
            _policy = policy;
            foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
                if (kv.Length != 2 || kv[0].Length == 0) throw new HeadWiseException($"{policy}: parameter '{part}' is not key=value");
                _values[kv[0].ToLowerInvariant()] = kv[1];
            }
        }

        public string String(string key, string fallback) { _used.Add(key); return _values.GetValueOrDefault(key, fallback); }

        public int Int(string key, int fallback) => _values.TryGetValue(key, out var v) && _used.Add(key)
            ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x : throw new HeadWiseException($"{_policy}: {key}='{v}' is not an integer")
            : Use(key, fallback);

        public double Double(string key, double fallback) => _values.TryGetValue(key, out var v) && _used.Add(key)
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? x : throw new HeadWiseException($"{_policy}: {key}='{v}' is not a finite number")
            : Use(key, fallback);

        private T Use<T>(string key, T fallback) { _used.Add(key); return fallback; }

        public void CheckAllUsed()
        {
            var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToArray();
            if (unknown.Length > 0)
                throw new HeadWiseException($"{_policy} has no parameter {string.Join(", ", unknown)}; " +
                                            (_used.Count == 0 ? "it takes none" : $"its parameters are {string.Join(", ", _used.Order())}"));
        }
    }
}
