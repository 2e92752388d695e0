using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;

namespace HeadWise.Steering;

/// <summary>
/// A steering found for one model (ZeroTuning, ACT, soft injection): an intervention that holds at every forward call,
/// including each generated token, and that saves to a steering file (<see cref="SteeringFile"/>).
/// </summary>
public interface ISteering : IIntervention
{
    /// <summary>The method's name as the CLI spells it (zerotuning, act, inject).</summary>
    string Method { get; }

    /// <summary>What was applied, for the steering file and for results that record it.</summary>
    JsonObject ToJson();
}

/// <summary>A (layer, head) pair of query heads, as steering files and results write it ("L.H").</summary>
public readonly record struct HeadRef(int Layer, int Head)
{
    public override string ToString() => $"{Layer}.{Head}";

    /// <summary>Every query head of a model, layer-major.</summary>
    public static IReadOnlyList<HeadRef> All(Models.ModelSpec spec) =>
        [.. Enumerable.Range(0, spec.Layers).SelectMany(l => Enumerable.Range(0, spec.Heads).Select(h => new HeadRef(l, h)))];

    /// <summary>Parses "L.H" (as <see cref="ToString"/> writes it).</summary>
    public static HeadRef Parse(string text)
    {
        var parts = text.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int l) || !int.TryParse(parts[1], out int h) || l < 0 || h < 0)
            throw new HeadWiseException($"'{text}' is not a head as layer.head (e.g. 2.3)");
        return new HeadRef(l, h);
    }
}

/// <summary>Scores a steering on a development split: higher is better (accuracy); null hooks = the unsteered model.</summary>
public delegate double DevScore(HookSet? hooks);
