using HeadWise.KvCache.Policies;
using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>
/// The policy registry: every policy's <see cref="PolicyDeclaration"/> (name, method, parameters and defaults, written
/// once beside the policy). Parsing of <c>key=value</c> parameters, help texts and errors all come from them.
/// Adding a policy: write its class with a static Declaration and list it here.
/// </summary>
public static class KvPolicies
{
    public static IReadOnlyList<PolicyDeclaration> Declarations { get; } =
    [
        FullPolicy.Declaration, StreamingPolicy.Declaration, H2oPolicy.Declaration, SnapKvPolicy.Declaration,
        PyramidKvPolicy.Declaration, AdaKvPolicy.Declaration, HeadKvPolicy.Declaration, DuoPolicy.Declaration,
        TaskKvPolicy.Declaration, EmsPolicy.Declaration, SpAttenPolicy.Declaration, DeltaPolicy.Declaration,
        LongHeadsPolicy.Declaration,
    ];

    public static IReadOnlyCollection<string> Names { get; } = Declarations.Select(d => d.Name).ToArray();

    /// <summary>Policies that rank slots within a head, which budget allocations (pyramidkv, adakv, headkv) can wrap.</summary>
    public static IReadOnlyCollection<string> Scorers { get; } = Declarations.Where(d => d.IsScorer).Select(d => d.Name).ToArray();

    /// <summary>The declaration of <paramref name="name"/>; an error naming the known policies when there is none.</summary>
    public static PolicyDeclaration Declaration(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        return Declarations.FirstOrDefault(d => d.Name == key)
               ?? throw new HeadWiseException($"unknown KV policy '{name}'; known policies: {string.Join(", ", Names)}");
    }

    /// <summary>The normalised name; throws naming the known policies when <paramref name="name"/> is not one.</summary>
    public static string RequireKnown(string name) => Declaration(name).Name;

    /// <summary>
    /// Creates policy <paramref name="name"/>; <paramref name="parameters"/> is "key=value,key=value" (e.g. "sinks=8"),
    /// any declared key (for a budget allocation, also its scorer's). Policies that read head scores need <paramref name="atlas"/>.
    /// </summary>
    public static KvPolicy Create(string name, KvBudget budget, ModelSpec spec, HeadScores? atlas = null, string? parameters = null)
    {
        var d = Declaration(name);
        var given = Split(d.Name, parameters);
        PolicyDeclaration? scorer = null;
        if (d.ComposesScorer)
        {
            var scorerName = given.GetValueOrDefault(PolicyArguments.ScorerKey) ?? d.Parameters.First(p => p.Key == PolicyArguments.ScorerKey).Default;
            scorer = Declarations.FirstOrDefault(x => x.Name == scorerName.Trim().ToLowerInvariant() && x.IsScorer)
                     ?? throw new HeadWiseException($"{d.Name}: scorer={scorerName} is not a policy that scores positions; valid scorers: {string.Join(", ", Scorers)}");
        }
        var valid = d.Parameters.Concat(scorer?.Parameters ?? []).ToList();
        var unknown = given.Keys.Where(k => valid.All(p => p.Key != k)).ToArray();
        if (unknown.Length > 0)
            throw new HeadWiseException($"{d.Name} has no parameter {string.Join(", ", unknown)}; " +
                (valid.Count == 0 ? "it takes none" : $"valid keys: {string.Join(", ", valid.Select(p => p.Usage))}"));
        budget.Validate(spec);
        Func<PolicyArguments, KvPolicy>? makeScorer = scorer is null ? null
            : _ => scorer.Create(new PolicyArguments(scorer, spec, budget, atlas, Values(scorer, given), null));
        return d.Create(new PolicyArguments(d, spec, budget, atlas, Values(d, given), makeScorer));
    }

    /// <summary>"k=v,k=v" → key → text; a part without '=' or a key given twice is an error.</summary>
    private static Dictionary<string, string> Split(string policy, string? text)
    {
        var values = new Dictionary<string, string>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || kv[0].Length == 0) throw new HeadWiseException($"{policy}: parameter '{part}' is not key=value");
            if (!values.TryAdd(kv[0].ToLowerInvariant(), kv[1])) throw new HeadWiseException($"{policy}: parameter '{kv[0]}' is given twice");
        }
        return values;
    }

    private static Dictionary<string, object> Values(PolicyDeclaration d, Dictionary<string, string> given) =>
        d.Parameters.Where(p => given.ContainsKey(p.Key)).ToDictionary(p => p.Key, p => p.Parse(d.Name, given[p.Key]));
}
