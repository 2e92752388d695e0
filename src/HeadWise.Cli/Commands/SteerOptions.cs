using System.CommandLine;
using HeadWise.Eval;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Steering;

namespace HeadWise.Cli.Commands;

/// <summary>`--steer FILE` for bench and sweep: a saved steering (headwise steer) applied at every forward call.</summary>
internal sealed class SteerOptions
{
    public Option<string?> Steer { get; } = new("--steer") { Description = "A steering file written by `headwise steer` (zerotuning, act, inject), applied to every prompt" };

    public IEnumerable<Option> All => [Steer];

    /// <summary>The steering's hooks and how results record it; (null, null) without --steer. A file for another model shape is an error.</summary>
    public (HookSet? Hooks, string? Applied) Read(ParseResult r, ModelSpec spec)
    {
        if (r.GetValue(Steer) is not { } path) return (null, null);
        var steering = SteeringFile.Load(path, spec);
        return (new HookSet().Add(steering), SteeringFile.Applied(steering, path));
    }
}
