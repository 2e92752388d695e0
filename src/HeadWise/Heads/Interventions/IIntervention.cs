namespace HeadWise.Heads.Interventions;

/// <summary>One small change to a run (ablate, scale, patch), expressed as hooks; several compose on one <see cref="HookSet"/>.</summary>
public interface IIntervention
{
    /// <summary>Adds this intervention's hooks to <paramref name="hooks"/>.</summary>
    void Register(HookSet hooks);
}
