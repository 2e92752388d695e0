namespace HeadWise;

/// <summary>A user-facing error: bad input, a missing file, an unsupported model. The message names the problem.</summary>
public class HeadWiseException : Exception
{
    /// <summary>A user-facing error with a one-line <paramref name="message"/>.</summary>
    public HeadWiseException(string message) : base(message) { }
    /// <summary>A user-facing error caused by <paramref name="inner"/>.</summary>
    public HeadWiseException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file that is not what it claims to be; the message names the file and the field.</summary>
public sealed class InvalidModelFileException : HeadWiseException
{
    /// <summary>The file at <paramref name="path"/> is malformed: <paramref name="problem"/>.</summary>
    public InvalidModelFileException(string path, string problem) : base($"{path}: {problem}") { Path = path; }
    /// <summary>The offending file.</summary>
    public string Path { get; }
}
