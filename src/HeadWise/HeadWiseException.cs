namespace HeadWise;

/// <summary>A user-facing error: bad input, a missing file, an unsupported model. The message names the problem.</summary>
public class HeadWiseException : Exception
{
    public HeadWiseException(string message) : base(message) { }
    public HeadWiseException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file that is not what it claims to be; the message names the file and the field.</summary>
public sealed class InvalidModelFileException : HeadWiseException
{
    public InvalidModelFileException(string path, string problem) : base($"{path}: {problem}") { Path = path; }
    public string Path { get; }
}
