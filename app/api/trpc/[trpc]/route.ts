import { handleTrpcRequest } from "@/server/trpc/handler";

export { handleTrpcRequest as GET, handleTrpcRequest as POST };
