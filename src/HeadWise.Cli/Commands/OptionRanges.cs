using System.CommandLine;

namespace HeadWise.Cli.Commands;

/// <summary>
/// Ranges for numeric options, checked while parsing: a value out of range (or NaN/Infinity) is a parse error, reported
/// like every other one (`error: ...`, exit 1, pointing at --help).
/// </summary>
internal static class OptionRanges
{
    public static Option<int> InRange(this Option<int> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            if (TryValue<int>(r, out var v) && (v < min || v > max)) r.AddError($"{option.Name} must be in {min}..{max}, got {v}");
        });
        return option;
    }

    public static Option<int?> InRange(this Option<int?> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            if (TryValue<int?>(r, out var n) && n is int v && (v < min || v > max)) r.AddError($"{option.Name} must be in {min}..{max}, got {v}");
        });
        return option;
    }

    // A token that does not convert already has its parse error (reading the value would throw): nothing to add.
    private static bool TryValue<T>(System.CommandLine.Parsing.OptionResult r, out T value)
    {
        try { value = r.GetValueOrDefault<T>()!; return true; }
        catch (InvalidOperationException) { value = default!; return false; }
    }

    /// <summary>A finite value in [min, max] (or (min, max] when <paramref name="minExclusive"/>).</summary>
    public static Option<double> InRange(this Option<double> option, double min, double max, bool minExclusive = false)
    {
        option.Validators.Add(r =>
        {
            if (!TryValue<double>(r, out var v)) return;
            if (!double.IsFinite(v) || v < min || v > max || (minExclusive && v == min))
                r.AddError($"{option.Name} must be a finite number in {(minExclusive ? "(" : "[")}{min}, {max}], got {v}");
        });
        return option;
    }
}
