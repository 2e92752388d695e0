using HeadWise.Models;

namespace HeadWise.Steering;

/// <summary>Checks shared by the steering methods (each error names the method and the value).</summary>
internal static class SteeringChecks
{
    public static void Heads(IEnumerable<HeadRef> heads, ModelSpec spec, string method)
    {
        foreach (var h in heads)
            if (h.Layer < 0 || h.Layer >= spec.Layers || h.Head < 0 || h.Head >= spec.Heads)
                throw new HeadWiseException($"{method}: head {h} does not exist in a model of {spec.Layers} layers x {spec.Heads} heads");
    }

    public static void Fraction(double value, string name, string method, bool zeroAllowed)
    {
        if (!(zeroAllowed ? value >= 0 : value > 0) || !(value <= 1))
            throw new HeadWiseException($"{method}: {name} {value} must be in {(zeroAllowed ? "[0, 1]" : "(0, 1]")}");
    }
}
