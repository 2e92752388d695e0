using HeadWise.Analysis.Scores;

namespace HeadWise.Analysis;

/// <summary>The scores by CLI name, in the order a profile runs them.</summary>
public static class ScoreRegistry
{
    // Each factory takes the score's "key=value,..." parameters (null: its defaults); scores without parameters refuse them.
    private static readonly Func<string?, IHeadScore>[] Factories =
    [
        p => None(p, new SinkScore()), p => None(p, new SecondarySinkScore()), p => None(p, new LocalityScore()), p => None(p, new EntropyScore()),
        p => None(p, new SimilarityScore()), p => None(p, new HeterogeneityScore()), p => None(p, new ImportanceScore()), p => None(p, new SensitivityScore()),
        p => QkSelectScore.Parse(p), p => None(p, new RetrievalScore()), p => None(p, new RetrievalReasoningScore()), p => None(p, new AttentionInfluenceScore()),
        p => new DuoGateScore(DuoGateTraining.Parse(p)),
    ];

    public static IReadOnlyList<string> Names { get; } = Factories.Select(f => f(null).Name).ToArray();

    public static IReadOnlyList<IHeadScore> All() => Factories.Select(f => f(null)).ToArray();

    /// <summary>
    /// Parses "a,b,..." (null or "all" for every score); throws naming the valid names. <paramref name="parameters"/>
    /// maps a score name to its "key=value,..." (e.g. duo-gate: "steps=500,sinks=16").
    /// </summary>
    public static IReadOnlyList<IHeadScore> Parse(string? list, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var wanted = string.IsNullOrWhiteSpace(list) || list.Trim() == "all"
            ? Names.ToArray()
            : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = wanted.Concat(parameters?.Keys ?? []).Where(w => !Names.Contains(w)).Distinct().ToArray();
        if (unknown.Length > 0) throw new HeadWiseException($"unknown score(s) {string.Join(", ", unknown)}; valid: {string.Join(", ", Names)}");
        return Factories.Select((f, i) => (f, name: Names[i])).Where(x => wanted.Contains(x.name))
            .Select(x => x.f(parameters?.GetValueOrDefault(x.name))).ToArray();
    }

    private static IHeadScore None(string? parameters, IHeadScore score) =>
        string.IsNullOrWhiteSpace(parameters) ? score : throw new HeadWiseException($"score {score.Name} takes no parameters (got '{parameters}')");
}
