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
            var v = r.GetValueOrDefault<int>();
            if (v < min || v > max) r.AddError($"{option.Name} must be in {min}..{max}, got {v}");
        });
        return option;
    }

    public static Option<int?> InRange(this Option<int?> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && (v < min || v > max)) r.AddError($"{option.Name} must be in {min}..{max}, got {v}");
        });
        return option;
    }

    /// <summary>A finite value in [min, max] (or (min, max] when <paramref name="minExclusive"/>).</summary>
    public static Option<double> InRange(this Option<double> option, double min, double max, bool minExclusive = false)
    {
        option.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<double>();
            if (!double.IsFinite(v) || v < min || v > max || (minExclusive && v == min))
                r.AddError($"{option.Name} must be a finite number in {(minExclusive ? "(" : "[")}{min}, {max}], got {v}");
        });
        return option;
    }
}
