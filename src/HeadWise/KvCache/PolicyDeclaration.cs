using System.Globalization;
using HeadWise.Models;

namespace HeadWise.KvCache;

public enum ParameterKind { Integer, Number, Name }

/// <summary>
/// One parameter of a KV policy: its key, its default (written here and nowhere else), what it means and its valid
/// range. <c>--kv-params</c> parsing, <c>--help</c> and the error messages all read this.
/// </summary>
public sealed record PolicyParameter
{
    public required string Key { get; init; }
    public required ParameterKind Kind { get; init; }
    /// <summary>The default as it would be written on the command line.</summary>
    public required string Default { get; init; }
    public required string Help { get; init; }
    public double Min { get; init; } = double.NegativeInfinity;
    public double Max { get; init; } = double.PositiveInfinity;
    public bool MaxExclusive { get; init; }
    /// <summary>For a name, the only values it may take (null: any name, such as an atlas score).</summary>
    public IReadOnlyList<string>? Choices { get; init; }

    public static PolicyParameter Integer(string key, int @default, string help, int min = int.MinValue, int max = int.MaxValue) =>
        new() { Key = key, Kind = ParameterKind.Integer, Default = @default.ToString(CultureInfo.InvariantCulture), Help = help, Min = min, Max = max };

    public static PolicyParameter Number(string key, double @default, string help, double min = double.NegativeInfinity,
        double max = double.PositiveInfinity, bool maxExclusive = false) =>
        new() { Key = key, Kind = ParameterKind.Number, Default = @default.ToString("R", CultureInfo.InvariantCulture), Help = help, Min = min, Max = max, MaxExclusive = maxExclusive };

    public static PolicyParameter Name(string key, string @default, string help) =>
        new() { Key = key, Kind = ParameterKind.Name, Default = @default, Help = help };

    /// <summary>
    /// A number that may be left unset: its default is a word (<paramref name="unsetWord"/>, e.g. "auto" or "none") that
    /// the policy resolves itself; <see cref="PolicyArguments.OptionalNumber"/> reads null for it.
    /// </summary>
    public static PolicyParameter OptionalNumber(string key, string unsetWord, string help, double min = double.NegativeInfinity,
        double max = double.PositiveInfinity, bool maxExclusive = false) =>
        new() { Key = key, Kind = ParameterKind.Number, Default = unsetWord, Help = help, Min = min, Max = max, MaxExclusive = maxExclusive, Unset = true };

    /// <summary>An integer that may be left unset, as <see cref="OptionalNumber"/>; <see cref="PolicyArguments.OptionalInteger"/> reads null for it.</summary>
    public static PolicyParameter OptionalInteger(string key, string unsetWord, string help, int min = int.MinValue, int max = int.MaxValue) =>
        new() { Key = key, Kind = ParameterKind.Integer, Default = unsetWord, Help = help, Min = min, Max = max, Unset = true };

    /// <summary>True when the default is a word meaning "not given" (<see cref="OptionalNumber"/>, <see cref="OptionalInteger"/>).</summary>
    public bool Unset { get; init; }

    /// <summary>A name that must be one of <paramref name="choices"/>.</summary>
    public static PolicyParameter Choice(string key, string @default, string[] choices, string help) =>
        new() { Key = key, Kind = ParameterKind.Name, Default = @default, Help = help, Choices = choices };

    /// <summary>"key=default (help)" for help texts.</summary>
    public string Usage => $"{Key}={Default} ({Help}{(RangeText is { } r ? $"; {r}" : "")})";

    /// <summary>The valid range in words, or null when any value of the kind goes.</summary>
    public string? RangeText
    {
        get
        {
            bool lo = !double.IsNegativeInfinity(Min) && Min > int.MinValue, hi = !double.IsPositiveInfinity(Max) && Max < int.MaxValue;
            string F(double x) => x.ToString(CultureInfo.InvariantCulture);
            if (Choices is not null) return $"one of {string.Join(", ", Choices)}";
            if (lo && hi) return $"in [{F(Min)}, {F(Max)}{(MaxExclusive ? ")" : "]")}";
            if (lo) return $">= {F(Min)}";
            if (hi) return MaxExclusive ? $"< {F(Max)}" : $"<= {F(Max)}";
            return null;
        }
    }

    /// <summary>Parses and range-checks <paramref name="text"/> (a value given for this key); <paramref name="policy"/> names the policy in errors.</summary>
    internal object Parse(string policy, string text)
    {
        switch (Kind)
        {
            case ParameterKind.Name:
                if (text.Length == 0) throw new HeadWiseException($"{policy}: {Key} is empty; give a name (default {Default})");
                if (Choices is not null && !Choices.Contains(text.ToLowerInvariant()))
                    throw new HeadWiseException($"{policy}: {Key}={text} is not a valid choice; valid choices: {string.Join(", ", Choices)} ({Help}; default {Default})");
                return Choices is null ? text : text.ToLowerInvariant();
            case ParameterKind.Integer:
                if (Unset && text.Equals(Default, StringComparison.OrdinalIgnoreCase)) return null!; // the unset word given explicitly
                if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i))
                    throw new HeadWiseException($"{policy}: {Key}={text} is not an integer ({Help}; default {Default})");
                Check(policy, i, text);
                return i;
            default:
                if (Unset && text.Equals(Default, StringComparison.OrdinalIgnoreCase)) return null!; // "auto"/"none" given explicitly
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) || !double.IsFinite(x))
                    throw new HeadWiseException($"{policy}: {Key}={text} is not a number ({Help}; default {Default})");
                Check(policy, x, text);
                return x;
        }
    }

    private void Check(string policy, double x, string text)
    {
        if (x < Min || x > Max || (MaxExclusive && x >= Max))
            throw new HeadWiseException($"{policy}: {Key}={text} must be {RangeText} ({Help}; default {Default})");
    }
}

/// <summary>
/// What a KV policy is, declared once next to its code: its name, the method it implements, a one-line summary, its
/// parameters with their defaults, and how to build it from parsed arguments. <see cref="KvPolicies"/> lists the
/// declarations; the CLI's help and errors are made from them. A policy that <see cref="ComposesScorer"/> (a budget
/// allocation such as pyramidkv or adakv) also accepts the parameters of the scorer named by its <c>scorer</c> parameter.
/// </summary>
public sealed record PolicyDeclaration(string Name, string Method, string Summary, IReadOnlyList<PolicyParameter> Parameters,
    Func<PolicyArguments, KvPolicy> Create)
{
    /// <summary>The head score the policy reads from an atlas (null: needs none).</summary>
    public string? ReadsScore { get; init; }

    /// <summary>
    /// False for policies whose memory follows from their own parameters, not from <c>--budget</c> (full; DuoAttention's
    /// target sparsity): a sweep runs them once instead of once per budget.
    /// </summary>
    public bool TakesBudget { get; init; } = true;

    /// <summary>True for policies that rank each head's slots (kvpress's ScorerPress): budget allocations can wrap them.</summary>
    public bool IsScorer { get; init; }

    /// <summary>True for budget allocations over a scorer named by the parameter <c>scorer</c> (kvpress's AdaKVPress(scorer)).</summary>
    public bool ComposesScorer => Parameters.Any(p => p.Key == PolicyArguments.ScorerKey);

    /// <summary>"name: summary (k=v (help), ...)" for --help.</summary>
    public string Usage => Parameters.Count == 0 ? $"{Name}: {Summary}" : $"{Name}: {Summary}; {string.Join(", ", Parameters.Select(p => p.Usage))}";
}

/// <summary>The parsed parameters of one policy, with the model, budget and atlas it is built for.</summary>
public sealed class PolicyArguments
{
    public const string ScorerKey = "scorer";

    private readonly PolicyDeclaration _declaration;
    private readonly Dictionary<string, object> _values;
    private readonly HeadScores? _atlas;
    private readonly Func<PolicyArguments, KvPolicy>? _scorer;

    internal PolicyArguments(PolicyDeclaration declaration, ModelSpec spec, KvBudget budget, HeadScores? atlas, Dictionary<string, object> values,
        Func<PolicyArguments, KvPolicy>? scorer)
    {
        _declaration = declaration;
        Spec = spec;
        Budget = budget;
        _atlas = atlas;
        _values = values;
        _scorer = scorer;
    }

    public ModelSpec Spec { get; }
    public KvBudget Budget { get; }

    /// <summary>The head scores the policy reads; a clear error when none were given.</summary>
    public HeadScores Atlas => _atlas ?? throw new HeadWiseException(
        $"{_declaration.Name} reads the head score '{_declaration.ReadsScore}': give an atlas (--atlas atlas.json{(_declaration.Name == "duo" ? " or DuoAttention's full_attention_heads.tsv" : "")})");

    public int Integer(string key) => Value(key, ParameterKind.Integer) as int? ?? throw new InvalidOperationException($"{_declaration.Name}: '{key}' has no default; read it with OptionalInteger");
    /// <summary>An integer declared with <see cref="PolicyParameter.OptionalInteger"/>: null when not given.</summary>
    public int? OptionalInteger(string key) => (int?)Value(key, ParameterKind.Integer);
    public double Number(string key) => Value(key, ParameterKind.Number) as double? ?? throw new InvalidOperationException($"{_declaration.Name}: '{key}' has no default; read it with OptionalNumber");
    public string Name(string key) => (string)Value(key, ParameterKind.Name);
    /// <summary>A number declared with <see cref="PolicyParameter.OptionalNumber"/>: null when not given.</summary>
    public double? OptionalNumber(string key) => (double?)Value(key, ParameterKind.Number);

    /// <summary>The scorer a budget allocation wraps, built with its own parameters.</summary>
    public KvPolicy Scorer() => _scorer?.Invoke(this) ?? throw new InvalidOperationException($"{_declaration.Name} declares no '{ScorerKey}' parameter");

    private object Value(string key, ParameterKind kind)
    {
        var p = _declaration.Parameters.FirstOrDefault(x => x.Key == key)
                ?? throw new InvalidOperationException($"{_declaration.Name} reads parameter '{key}' but does not declare it");
        if (p.Kind != kind) throw new InvalidOperationException($"{_declaration.Name}: parameter '{key}' is declared {p.Kind}, read as {kind}");
        return _values.TryGetValue(key, out var v) ? v : p.Unset ? null! : p.Parse(_declaration.Name, p.Default);
    }
}
