using HeadWise.Analysis.Scores;

namespace HeadWise.Analysis;

/// <summary>The scores by CLI name, in the order a profile runs them.</summary>
public static class ScoreRegistry
{
    private static readonly Func<IHeadScore>[] Factories =
    [
        () => new SinkScore(), () => new SecondarySinkScore(), () => new LocalityScore(), () => new EntropyScore(),
        () => new SimilarityScore(), () => new HeterogeneityScore(), () => new ImportanceScore(), () => new SensitivityScore(),
        () => new QkSelectScore(), () => new RetrievalScore(), () => new RetrievalReasoningScore(), () => new AttentionInfluenceScore(),
        () => new DuoGateScore(),
    ];

    public static IReadOnlyList<string> Names { get; } = Factories.Select(f => f().Name).ToArray();

    public static IReadOnlyList<IHeadScore> All() => Factories.Select(f => f()).ToArray();

    /// <summary>Parses "a,b,..." (null or "all" for every score); throws naming the valid names.</summary>
    public static IReadOnlyList<IHeadScore> Parse(string? list)
    {
        if (string.IsNullOrWhiteSpace(list) || list.Trim() == "all") return All();
        var wanted = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = wanted.Where(w => !Names.Contains(w)).ToArray();
        if (unknown.Length > 0) throw new HeadWiseException($"unknown score(s) {string.Join(", ", unknown)}; valid: {string.Join(", ", Names)}");
        return All().Where(s => wanted.Contains(s.Name)).ToArray();
    }
}
