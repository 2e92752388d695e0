namespace HeadWise.Eval;

/// <summary>Which forward calls of a harness sample run the hooks given to it.</summary>
public enum HookPhase
{
    /// <summary>Every call: the prompt's prefill, its scored chunks and decoding.</summary>
    Everywhere,
    /// <summary>
    /// Decoding only: the prompt but its last token is prefilled without hooks; the last prompt token and each generated
    /// one run with them (the Retrieval Head paper's masking test prefills unmasked, then decodes masked). Answer tasks only.
    /// </summary>
    Decode,
}
