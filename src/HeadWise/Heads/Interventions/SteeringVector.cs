using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Interventions;

/// <summary>
/// Activation steering: adds <c>coefficient × vector</c> to a hook point's activation at every position of every forward
/// call (so at each generated token too). <paramref name="vector"/> has the point's last dimension, e.g. [D] for
/// <c>blocks.{L}.hook_resid_pre</c>; a difference of two runs' residuals (ActAdd) is the usual choice.
/// </summary>
public sealed class SteeringVector(string name, Tensor vector, double coefficient = 1.0) : IIntervention, IDisposable
{
    private readonly HookPoint _point = HookPoint.Parse(name);
    private readonly Scalar _coefficient = coefficient.ToScalar();

    /// <summary>Registers the addition on <paramref name="hooks"/>.</summary>
    public void Register(HookSet hooks) => hooks.Add(_point.Name, x =>
    {
        if (x.shape[^1] != vector.shape[^1])
            throw new HeadWiseException($"steering '{name}': the vector has {vector.shape[^1]} values but the activation's last axis has {x.shape[^1]}");
        return x.add(vector.to(x.dtype), _coefficient);
    });

    /// <summary>Frees the held coefficient.</summary>
    public void Dispose() => _coefficient.Dispose();
}
